-- Headless Neovim as a real devroute client, driven by tests/test_lsp_nvim.py.
--
-- Loads integrations/neovim/devroute.lua (the snippet users install), opens a prompt file,
-- waits for devroute's diagnostics, asks for code actions with those diagnostics as context,
-- applies "Rewrite prompt" with Neovim's own workspace-edit code and saves the file; then opens
-- a Cursor rule file (.mdc) to check the snippet attaches there too. Everything it saw goes to
-- the JSON file named by $DEVROUTE_NVIM_RESULT; the Python test does the asserting.

local env = vim.env
local WAIT_MS = 30000
local result = { nvim = tostring(vim.version().major) .. "." .. tostring(vim.version().minor) }

local function clients(buf)
  if vim.lsp.get_clients then
    return vim.lsp.get_clients({ bufnr = buf, name = "devroute" })
  end
  local list = {}
  for _, client in pairs(vim.lsp.buf_get_clients(buf)) do
    table.insert(list, client)
  end
  return list
end

local function open_and_wait(path)
  vim.cmd("edit " .. vim.fn.fnameescape(path))
  local buf = vim.api.nvim_get_current_buf()
  assert(vim.wait(WAIT_MS, function() return #clients(buf) > 0 end, 20), "devroute did not attach to " .. path)
  assert(vim.wait(WAIT_MS, function() return #vim.diagnostic.get(buf) > 0 end, 20), "no diagnostics for " .. path)
  return buf
end

local function seen(diagnostics)
  local out = {}
  for _, d in ipairs(diagnostics) do
    table.insert(out, { line = d.lnum, message = d.message, source = d.source, severity = d.severity })
  end
  return out
end

-- The LSP form of Neovim's diagnostics, rebuilt from lnum/col (0.7 keeps no copy of the original).
local function as_lsp(diagnostics)
  local out = {}
  for _, d in ipairs(diagnostics) do
    table.insert(out, {
      range = { start = { line = d.lnum, character = d.col }, ["end"] = { line = d.end_lnum, character = d.end_col } },
      message = d.message,
      severity = d.severity,
      source = d.source,
    })
  end
  return out
end

local function run()
  local devroute = dofile(env.DEVROUTE_NVIM_SNIPPET)
  devroute.setup({ cmd = vim.fn.json_decode(env.DEVROUTE_NVIM_CMD), settings = { debounceMs = 50 } })

  local buf = open_and_wait(env.DEVROUTE_NVIM_PROMPT)
  local client = clients(buf)[1]
  result.filetype = vim.api.nvim_buf_get_option(buf, "filetype")
  local diagnostics = vim.diagnostic.get(buf)
  result.diagnostics = seen(diagnostics)

  local line = diagnostics[1].lnum
  local on_line = vim.tbl_filter(function(d) return d.lnum == line end, diagnostics)
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(buf) },
    range = { start = { line = line, character = 0 }, ["end"] = { line = line, character = 0 } },
    context = { diagnostics = as_lsp(on_line) },
  }
  local responses = vim.lsp.buf_request_sync(buf, "textDocument/codeAction", params, WAIT_MS) or {}
  local rewrite = nil
  result.actions = {}
  for _, response in pairs(responses) do
    for _, action in ipairs(response.result or {}) do
      table.insert(result.actions, action.title)
      if action.title == "Rewrite prompt" then
        rewrite = action
      end
    end
  end
  assert(rewrite, "no 'Rewrite prompt' code action")
  vim.lsp.util.apply_workspace_edit(rewrite.edit, client.offset_encoding or "utf-16")
  vim.cmd("write")
  result.rewritten = true

  local rule = open_and_wait(env.DEVROUTE_NVIM_RULE)
  result.rule_filetype = vim.api.nvim_buf_get_option(rule, "filetype")
  result.rule_diagnostics = seen(vim.diagnostic.get(rule))
end

local ok, err = pcall(run)
result.ok = ok
result.error = ok and vim.NIL or tostring(err)
vim.fn.writefile({ vim.fn.json_encode(result) }, env.DEVROUTE_NVIM_RESULT)
vim.cmd("qa!")
