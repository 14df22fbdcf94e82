"""Home-dashboard indicators, saved insights and dashboards: the services the console and its JSON API call."""
