"""Third-party risk: the vendor register, vendor scores from evidence, breach blast radius."""
