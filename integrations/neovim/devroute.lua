-- devroute for Neovim's built-in LSP client: diagnostics, hover, code actions and code lenses
-- on prompt files (Markdown, plain text, *.prompt.md, .claude/commands/*.md, AGENTS.md,
-- CLAUDE.md, .cursor/rules/*.mdc).
--
-- Install: copy this file to ~/.config/nvim/lua/devroute.lua and add to init.lua
--
--   require("devroute").setup()
--
-- or with options (every key is optional):
--
--   require("devroute").setup({
--     cmd = { "devroute", "lsp" },               -- `devroute --config FILE lsp` for another config
--     filetypes = { "markdown", "text" },
--     settings = {                               -- sent as initializationOptions and on every change
--       policy = { threshold = 0.8 },            -- threshold, maxRegret, lowRiskMaxRegret, fallback, allowedModels
--       globs = { "*.prompt.md", "AGENTS.md" },  -- which files devroute analyses
--       split = "section",                       -- "section" | "paragraph" | "document"
--       severity = "information",                -- or "hint"
--       debounceMs = 150,
--     },
--   })
--
-- Works on Neovim 0.11+ (vim.lsp.config / vim.lsp.enable), on 0.8-0.10 (vim.lsp.start) and on
-- 0.7 (vim.lsp.start_client + buf_attach_client). The devroute test suite runs this very file
-- in a headless Neovim against the real server.
--
-- Code actions: `:lua vim.lsp.buf.code_action()` on a prompt block offers "Rewrite prompt",
-- "Add missing-context checklist" and "Route with devroute and log the decision". Code lenses
-- show with `:lua vim.lsp.codelens.refresh()` (0.11+: vim.lsp.codelens.enable()).

local M = {}

M.defaults = {
  name = "devroute",
  cmd = { "devroute", "lsp" },
  filetypes = { "markdown", "text" },
  root_markers = { ".git", "AGENTS.md", "CLAUDE.md", ".claude", ".cursor" },
  settings = {},
}

local function root_dir_for(path, markers)
  local found = vim.fs and vim.fs.find and vim.fs.find(markers, { path = vim.fs.dirname(path), upward = true })[1]
  if found then
    return vim.fs.dirname(found)
  end
  return vim.fn.fnamemodify(path, ":p:h")
end

local function client_config(opts)
  return {
    name = opts.name,
    cmd = opts.cmd,
    init_options = opts.settings,
    -- Answered for workspace/configuration and pushed with workspace/didChangeConfiguration.
    settings = { devroute = opts.settings },
  }
end

function M.setup(user_opts)
  local opts = vim.tbl_deep_extend("force", {}, M.defaults, user_opts or {})

  -- Cursor rule files have no filetype of their own: read them as Markdown. vim.filetype.add
  -- covers 0.8+; the autocommand covers 0.7, whose filetype.lua is off by default.
  if vim.filetype and vim.filetype.add then
    vim.filetype.add({ extension = { mdc = "markdown" } })
  end
  vim.api.nvim_create_autocmd({ "BufRead", "BufNewFile" }, {
    group = vim.api.nvim_create_augroup("devroute_filetype", { clear = true }),
    pattern = "*.mdc",
    command = "setfiletype markdown",
  })

  if vim.lsp.config and vim.lsp.enable then
    local config = client_config(opts)
    config.filetypes = opts.filetypes
    config.root_markers = opts.root_markers
    vim.lsp.config(opts.name, config)
    vim.lsp.enable(opts.name)
    return
  end

  local client_id = nil
  local group = vim.api.nvim_create_augroup("devroute_lsp", { clear = true })
  vim.api.nvim_create_autocmd("FileType", {
    group = group,
    pattern = opts.filetypes,
    callback = function(args)
      local config = client_config(opts)
      config.root_dir = root_dir_for(vim.api.nvim_buf_get_name(args.buf), opts.root_markers)
      if vim.lsp.start then
        vim.lsp.start(config, { bufnr = args.buf })
        return
      end
      -- Neovim 0.7: one client for every prompt buffer.
      if client_id == nil or vim.lsp.get_client_by_id(client_id) == nil then
        client_id = vim.lsp.start_client(config)
      end
      if client_id then
        vim.lsp.buf_attach_client(args.buf, client_id)
      end
    end,
  })
end

return M
