-- Sentra terminal schema, step 5: the relay parks a device the cloud refuses.
-- A device whose next entry the cloud refuses for a reason resending cannot
-- cure (revoked, fork, forged, …) is parked: left out of forwarding until
-- `parked_until_ms`, then tried once more (the wait doubles each time, up to
-- an hour), so one refused device never holds up the rest of its branch.
ALTER TABLE relay_heads ADD COLUMN parked_reason TEXT;
ALTER TABLE relay_heads ADD COLUMN parked_until_ms INTEGER;
ALTER TABLE relay_heads ADD COLUMN park_count INTEGER NOT NULL DEFAULT 0;
