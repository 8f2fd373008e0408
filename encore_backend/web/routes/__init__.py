"""The dashboard pages: sign-in, venue dashboards, the admin console."""
