"""The built-in site policies (JSON files beside this one; a package so that they ship
with the terminal as package data)."""
