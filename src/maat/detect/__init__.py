"""Detection: alerts (Sigma, IOC and correlation engines arrive with the detection work)."""
