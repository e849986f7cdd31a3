-- Sentra terminal schema, step 6: going round a relay that holds our entries
-- but does not get them to the cloud.
-- `cloud_progress_at_ms`: the last time the cloud's ack moved, or everything
-- was in the cloud; a round goes straight to the cloud when it has not moved
-- for a while. `relay_parked`: the relay's word that the cloud refuses this
-- device (shown by `status`).
ALTER TABLE sync_state ADD COLUMN cloud_progress_at_ms INTEGER;
ALTER TABLE sync_state ADD COLUMN relay_parked TEXT;
