"""Product analytics: one module per analysis, each a typed query in and a typed result out."""
