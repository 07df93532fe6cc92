"""The Buergerservice demo: everything a release needs, on one machine, started and stopped by one command."""
