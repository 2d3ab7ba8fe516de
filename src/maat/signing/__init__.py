"""Code signing: signature bundles, verification, execution policy and Authenticode."""
