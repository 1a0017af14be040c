"""Services: thin orchestration of the lower layers, shared by the CLI and the server."""
