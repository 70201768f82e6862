"""Offline dependency audit: OSV advisory loading, version matching and CVSS scoring."""
