"""The requirements board (需求池): requirements out of feedback, votes, RICE, roadmap, PRD export."""
