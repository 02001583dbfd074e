"""Crisis SOPs at work: incidents (opened for the alerts a poll raises) with clocks, timelines, reply
drafts. The SOP schema and its compliance lint are configuration (``monitor.config.sops``)."""
