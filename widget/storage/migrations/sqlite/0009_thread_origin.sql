-- Where an imported thread came from: the identity its post or thread had in WordPress or
-- Disqus (a JSON object, '' for threads born here), so that an export can go back there and
-- be matched to the same post. Written by imports, read by exports; see widget/porting/origins.py.

ALTER TABLE threads ADD COLUMN origin TEXT NOT NULL DEFAULT '';
