"""Crisis SOPs at work: compliance lint, incidents with clocks, reply drafts."""
