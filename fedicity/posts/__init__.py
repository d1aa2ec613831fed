"""Posts (notes, articles, pages, questions), local and remote, with mentions, hashtags, likes
and boosts."""
