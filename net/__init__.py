"""The network adapter: the one guarded fetcher (`net.fetcher`) and robots.txt (`net.robots`).

Every outbound connection goes through here (DESIGN.md section 6); it imports only `domain`."""
