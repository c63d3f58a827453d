"""arch_zoo: a deterministic generator of neural architectures and its evaluation splits."""
