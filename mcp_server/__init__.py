"""devroute's MCP server: tools, resources and prompts over stdio and streamable HTTP.

A thin front end: every handler calls the one `devroute.core.router.Router` built at start-up.
"""
