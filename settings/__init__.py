"""The stack's config, parsed and validated: one clear error naming the config key, before any resource is registered.

`stack.parse_settings` is the entry point; each section has its own module. Settings hold the specs the components take."""
