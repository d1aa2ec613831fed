"""The ActivityPub protocol, knowing nothing of citizens or communes."""
