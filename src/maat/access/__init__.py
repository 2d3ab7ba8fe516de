"""Zero trust: access policies (RBAC + ABAC), device posture and risk, micro-segmentation.

Pure: policies and segment definitions are read from text, decisions computed from values;
the services layer gathers the facts (findings, alerts, heartbeats) from the state store.
"""
