-- name: GetAuthor :one
SELECT id, name, bio FROM authors
WHERE id = $1 LIMIT 1;

-- name: ListAuthors :many
SELECT id, name, bio FROM authors
ORDER BY name;

-- name: CountAuthors :one
SELECT count(*) FROM authors;

-- name: CreateAuthor :one
INSERT INTO authors (
  name, bio
) VALUES (
  $1, $2
)
RETURNING id, name, bio;

-- name: UpdateAuthorBio :exec
UPDATE authors
  set bio = $2
WHERE id = $1;

-- name: DeleteAuthor :exec
DELETE FROM authors
WHERE id = $1;
