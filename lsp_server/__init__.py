"""devroute as a language server: diagnostics, hovers, code actions and code lenses on prompt text."""
