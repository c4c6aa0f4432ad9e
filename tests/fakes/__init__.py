"""Local stand-ins for the services Tierwise publishes to, started by the tests themselves."""
