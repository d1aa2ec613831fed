"""Follow relations between actors of any server, and the Follow/Accept/Reject/Undo flow."""
