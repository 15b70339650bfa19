"""The web face: server-rendered result pages, document pages, JSON API and Atom feeds."""
