"""The Earth Ammit scenario: the attack chain and (later) its simulator."""
