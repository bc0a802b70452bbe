-- Proxy access (R3): the proxy agent a host reaches the server through,
-- and the address a proxy agent relays other agents from.
ALTER TABLE hosts ADD COLUMN proxy TEXT;
ALTER TABLE hosts ADD COLUMN proxy_listen TEXT;
