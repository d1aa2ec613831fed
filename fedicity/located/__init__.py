"""What happens where: posts, events and proposals located in a territory, and scope queries."""
