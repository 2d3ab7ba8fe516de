"""Reading feed files (OSV folders and zip dumps, KEV, EPSS, SBOMs) from disk."""
