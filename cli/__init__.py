"""The `devroute` command line: a thin front end over devroute.core."""
