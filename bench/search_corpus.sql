-- The search benchmark's corpus (bench/run.sh, ONLY=search), written straight into the database: the API
-- fills one chat at about 1.7k messages/s (a million would take 12 minutes), one statement here takes
-- about a minute. The user, the big chat and the other chats exist already (made through the API, with
-- the server's own migrations); this adds their messages exactly as the server would have stored them.
--   psql -v user=ID -v chat=ID -v messages=1000000 -v other_messages=200000 -f bench/search_corpus.sql
-- :messages go into chat :chat, :other_messages into the other chats of :user in rotation, interleaved
-- with them in id (and time) order as real traffic would be: one message in six is elsewhere.
--
-- Texts: 5 to 11 words (8 on average), each drawn from a vocabulary of 50,000 words with a Zipf-like
-- skew (continuous power law, exponent 0.9): rank 1 is in about 26% of the messages, rank 60 in 1%,
-- rank 10,000 in 0.01%, rank 50,000 in 0.002%. The word of rank k is the first 7 hex digits of md5(k)
-- with the digits turned into the letters g–p (so only the letters a–p occur, all words are 7 long,
-- and none is a prefix of another). The search column is what the server computes for a text of
-- lower-case ASCII words: array_to_tsvector(string_to_array(<the words>, ' ')) (array_to_tsvector
-- sorts and removes repeated words, as the server's search_document does).
\set ON_ERROR_STOP on
\timing on
SET work_mem = '256MB';
SET maintenance_work_mem = '1GB';

CREATE FUNCTION pg_temp.bench_word(rank int) RETURNS text LANGUAGE sql IMMUTABLE
    AS $$ SELECT translate(left(md5(rank::text), 7), '0123456789', 'ghijklmnop') $$;

INSERT INTO messages (id, chat_id, sender_id, text, timestamp, read, client_id, seq, version, search)
WITH params AS MATERIALIZED (
    SELECT :messages::bigint AS n_big,
           :other_messages::bigint AS n_other,
           :messages::bigint + :other_messages::bigint AS total,
           (SELECT coalesce(array_agg(chat_id ORDER BY chat_id), '{}') FROM chat_members
             WHERE user_id = :user AND chat_id <> :chat) AS others,
           (SELECT coalesce(max(id), 0) FROM messages) AS base_id,
           now() - interval '1 second' * (:messages::bigint + :other_messages::bigint) AS t0
), placed AS MATERIALIZED (
    -- Row i goes to another chat when floor(i * n_other / total) steps up: n_other of them, evenly spread.
    SELECT i,
           CASE WHEN n_other > 0 AND cardinality(others) > 0
                     AND (i * n_other) / total > ((i - 1) * n_other) / total
                THEN others[1 + ((i * n_other) / total) % cardinality(others)]
                ELSE :chat::bigint END AS chat_id,
           (SELECT string_agg(pg_temp.bench_word(floor(power(1 + random() * (power(50001, 0.1) - 1), 10))::int), ' ')
              FROM generate_series(1, 5 + (hashint8(i) & 2147483647) % 7)) AS text
      FROM params, generate_series(1, total) AS i
), numbered AS (
    SELECT i, chat_id, text, row_number() OVER (PARTITION BY chat_id ORDER BY i) AS seq FROM placed
)
SELECT p.base_id + n.i, n.chat_id, :user, n.text, p.t0 + interval '1 second' * n.i, TRUE, gen_random_uuid(),
       c.last_seq + n.seq, c.version + n.seq, array_to_tsvector(string_to_array(n.text, ' '))
  FROM numbered n JOIN chats c ON c.id = n.chat_id CROSS JOIN params p
 ORDER BY n.i;

UPDATE chats c
   SET last_seq = m.last_seq, version = greatest(c.version, m.version), last_message_at = m.last_at
  FROM (SELECT chat_id, max(seq) AS last_seq, max(version) AS version, max(timestamp) AS last_at
          FROM messages GROUP BY chat_id) m
 WHERE c.id = m.chat_id;
SELECT setval(pg_get_serial_sequence('messages', 'id'), (SELECT max(id) FROM messages));

VACUUM (ANALYZE) messages;
ANALYZE chats;
ANALYZE chat_members;

