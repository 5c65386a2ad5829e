"""Everything that goes over HTTP: one session with retries and pacing, OAuth, the osu! API,
osu!collector and `.osu` downloads. Nothing here touches the warehouse: callers pass a `land` callback."""
