"""Stewardship: the moderators' actions on reported content and accounts. It sits on top of the
domain, above accounts, because removing reported content sends the federated Delete its owner's
own deletion would send (posts, events, proposals' comments) and suspending closes sessions."""
