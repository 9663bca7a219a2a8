-- wrk script: every request posts a new comment (its body numbered) as the iframe's script does.
local counter = 0
local origin = os.getenv("WIDGET_BENCH_ORIGIN")
local form_token = os.getenv("WIDGET_BENCH_FORM_TOKEN")

request = function()
  counter = counter + 1
  local body = string.format(
    '{"site":"bench","page":"/posting/","url":"http://blog.localhost:8000/posting/",' ..
    '"title":"Posting","name":"Bench","email":"bench@example.com",' ..
    '"form_token":"%s",' ..
    '"body":"Comment number %d from connection %s, with **some** markdown."}',
    form_token, counter, tostring(wrk.thread))
  return wrk.format("POST", "/api/v1/comments", {
    ["Content-Type"] = "application/json",
    ["Origin"] = origin,
  }, body)
end
