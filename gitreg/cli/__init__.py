"""The command line: thin typer commands over :class:`gitreg.client.Client`."""
