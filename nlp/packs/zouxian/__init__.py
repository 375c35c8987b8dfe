"""The zouxian corridor pack (data only; the YAML files here are the rules)."""
