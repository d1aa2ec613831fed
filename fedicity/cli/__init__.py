"""The command line: `fedicity run | web | worker | migrate | user | org | territories ...`."""
