"""Alert forwarders: a webhook (JSON over HTTPS) and syslog (CEF over UDP or TCP)."""
