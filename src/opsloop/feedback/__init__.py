"""Voice of the user: the feedback inbox, multilingual theme analysis and sentiment."""
