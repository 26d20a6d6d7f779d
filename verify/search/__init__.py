"""Finding anything on the desk: a SHA-256 or its prefix, a file name, an account, a URL or words."""
