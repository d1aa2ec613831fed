"""Events: local and federated, participation, agendas and iCalendar."""
