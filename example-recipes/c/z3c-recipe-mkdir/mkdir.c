/*
 * z3c.recipe.mkdir for bo, in C (clang + wasi-libc, bindings from `wit-bindgen c`,
 * made a component with the WASI preview1 reactor adapter; see build.sh).
 *
 * Creates the directories listed in `paths` (one per line, relative to the
 * buildout directory; default parts/<part>), with `mode` (octal) applied to each
 * directory it creates and each listed one that already existed. With
 * `create-intermediate = no` a listed directory whose parent does not exist is an
 * error. Directories it creates are removed on uninstall only with
 * `remove-on-update = yes`, as in the original. `user` and `group` need chown,
 * which the sandbox does not offer: they are ignored with a warning.
 *
 * bo creates every directory a part may write before the recipe starts (a WASI
 * preopen needs an existing directory) and lists those it created in
 * `host.prepared-dirs`: that list is how this recipe knows which directories are
 * new. The `paths` are declared as `option-dir:paths`, so inside the buildout they
 * need no grant and outside it each needs `--grant PART:outside=DIR`.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recipe.h"

/* A NUL-terminated copy of a WIT string. */
static char *cstr(const recipe_string_t *s) {
  char *out = malloc(s->len + 1);
  memcpy(out, s->ptr, s->len);
  out[s->len] = 0;
  return out;
}

static void log_at(bo_recipe_types_level_t level, const char *fmt, ...) {
  char buf[4096];
  va_list args;
  va_start(args, fmt);
  vsnprintf(buf, sizeof buf, fmt, args);
  va_end(args);
  recipe_string_t message;
  recipe_string_set(&message, buf);
  bo_recipe_host_log(level, &message);
}

/* The option's value (a fresh string), or NULL. */
static char *option(const recipe_options_t *options, const char *name) {
  for (size_t i = 0; i < options->len; i++) {
    const recipe_string_t *key = &options->ptr[i].f0;
    if (key->len == strlen(name) && memcmp(key->ptr, name, key->len) == 0) return cstr(&options->ptr[i].f1);
  }
  return NULL;
}

static char *config_get(const char *section, const char *key) {
  recipe_string_t s, k, value;
  recipe_string_set(&s, section);
  recipe_string_set(&k, key);
  if (!bo_recipe_host_config_get(&s, &k, &value)) return strdup("");
  return cstr(&value);
}

/* Python's string_to_bool of the original: yes, on, true, 1 (any case). */
static int to_bool(const char *value, int fallback) {
  if (value == NULL) return fallback;
  char lower[16] = {0};
  for (size_t i = 0; value[i] && i < sizeof lower - 1; i++) lower[i] = (char)(value[i] | 0x20);
  return !strcmp(lower, "yes") || !strcmp(lower, "on") || !strcmp(lower, "true") || !strcmp(lower, "1");
}

static char *trim(char *s) {
  while (*s == ' ' || *s == '\t' || *s == '\r') s++;
  size_t n = strlen(s);
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) s[--n] = 0;
  return s;
}

/* os.path.normpath(os.path.abspath(path)) against the buildout directory. */
static char *absolute(const char *base, const char *path) {
  size_t size = strlen(base) + strlen(path) + 2;
  char *joined = malloc(size);
  if (path[0] == '/') snprintf(joined, size, "%s", path);
  else snprintf(joined, size, "%s/%s", base, path);
  char *out = malloc(size + 1);
  size_t len = 0;
  char *save = NULL;
  for (char *part = strtok_r(joined, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
    if (!strcmp(part, ".")) continue;
    if (!strcmp(part, "..")) {
      while (len > 0 && out[len - 1] != '/') len--;
      if (len > 0) len--;
      continue;
    }
    out[len++] = '/';
    memcpy(out + len, part, strlen(part));
    len += strlen(part);
  }
  if (len == 0) out[len++] = '/';
  out[len] = 0;
  free(joined);
  return out;
}

static int compare(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void set_error(recipe_string_t *err, const char *fmt, ...) {
  char buf[4096];
  va_list args;
  va_start(args, fmt);
  vsnprintf(buf, sizeof buf, fmt, args);
  va_end(args);
  recipe_string_dup(err, buf);
}

static void add_option(recipe_options_t *ret, const char *key, const char *value) {
  ret->ptr = realloc(ret->ptr, (ret->len + 1) * sizeof *ret->ptr);
  recipe_string_dup(&ret->ptr[ret->len].f0, key);
  recipe_string_dup(&ret->ptr[ret->len].f1, value);
  ret->len++;
}

void exports_recipe_describe(recipe_manifest_t *ret) {
  memset(ret, 0, sizeof *ret);
  ret->names.ptr = malloc(sizeof(recipe_string_t));
  ret->names.len = 1;
  recipe_string_dup(&ret->names.ptr[0], "z3c.recipe.mkdir");
  recipe_string_dup(&ret->description, "Creates directories, with a mode, optionally removed on uninstall");
  ret->capabilities.writes.ptr = malloc(sizeof(recipe_string_t));
  ret->capabilities.writes.len = 1;
  recipe_string_dup(&ret->capabilities.writes.ptr[0], "option-dir:paths");
  ret->has_update = true;
}

bool exports_recipe_init(recipe_string_t *part_name, recipe_options_t *options, recipe_options_t *ret, recipe_string_t *err) {
  char *part = cstr(part_name);
  char *directory = config_get("buildout", "directory");
  char *paths = option(options, "paths");
  if (paths == NULL) {
    char *parts = config_get("buildout", "parts-directory");
    size_t size = strlen(parts) + strlen(part) + 2;
    paths = malloc(size);
    snprintf(paths, size, "%s/%s", parts, part);
  }
  char **list = NULL;
  size_t count = 0;
  char *save = NULL;
  for (char *line = strtok_r(paths, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    line = trim(line);
    if (!*line) continue;
    list = realloc(list, (count + 1) * sizeof *list);
    list[count++] = absolute(directory, line);
  }
  qsort(list, count, sizeof *list, compare);
  size_t total = 1;
  for (size_t i = 0; i < count; i++) total += strlen(list[i]) + 1;
  char *joined = calloc(total, 1);
  for (size_t i = 0; i < count; i++) {
    if (i) strcat(joined, "\n");
    strcat(joined, list[i]);
  }
  memset(ret, 0, sizeof *ret);
  add_option(ret, "paths", joined);
  add_option(ret, "create-intermediate", to_bool(option(options, "create-intermediate"), 1) ? "True" : "False");
  add_option(ret, "remove-on-update", to_bool(option(options, "remove-on-update"), 0) ? "True" : "False");
  char *mode = option(options, "mode");
  if (mode != NULL) {
    char *end = NULL;
    long value = strtol(trim(mode), &end, 8);
    if (*trim(mode) == 0 || *end != 0) {
      set_error(err, "'mode' must be an octal number: %s", mode);
      return false;
    }
    if (value) {
      char text[32];
      snprintf(text, sizeof text, "0o%lo", value);
      add_option(ret, "mode", text);
    }
  }
  return true;
}

struct state {
  char **targets;
  size_t target_count;
  recipe_list_string_t prepared;
  int create_intermediate, remove_on_update;
  long mode;
  recipe_list_string_t *created;
  /* Made during this call: an intermediate directory shared by two paths is
     made (and said) once, as the original does. */
  char **made;
  size_t made_count;
};

static int made_here(const struct state *st, const char *path) {
  for (size_t i = 0; i < st->made_count; i++)
    if (!strcmp(st->made[i], path)) return 1;
  return 0;
}

static int listed(const recipe_list_string_t *list, const char *path) {
  for (size_t i = 0; i < list->len; i++)
    if (list->ptr[i].len == strlen(path) && memcmp(list->ptr[i].ptr, path, list->ptr[i].len) == 0) return 1;
  return 0;
}

static int is_target(const struct state *st, const char *path) {
  for (size_t i = 0; i < st->target_count; i++)
    if (!strcmp(st->targets[i], path)) return 1;
  return 0;
}

static bool set_permissions(const struct state *st, const char *path, recipe_string_t *err) {
  if (!st->mode) return true;
  recipe_string_t p;
  recipe_string_set(&p, path);
  if (!bo_recipe_host_set_mode(&p, (uint32_t)st->mode, err)) return false;
  log_at(BO_RECIPE_TYPES_LEVEL_INFO, "  mode 0%lo", st->mode);
  return true;
}

/* The original's createIntermediatePaths; "existed before" is "not prepared by bo". */
static bool create(struct state *st, const char *path, recipe_string_t *err) {
  if (made_here(st, path)) return true;
  char *parent = strdup(path);
  char *slash = strrchr(parent, '/');
  if (slash == parent) slash[1] = 0;
  else if (slash) *slash = 0;
  int parent_is_new = listed(&st->prepared, parent) && !made_here(st, parent);
  if (!st->create_intermediate && is_target(st, path) && parent_is_new) {
    set_error(err, "Cannot create: %s\n       Parent does not exist or not a directory.", path);
    return false;
  }
  if (!strcmp(parent, path) || !listed(&st->prepared, path)) {
    if (is_target(st, path)) {
      log_at(BO_RECIPE_TYPES_LEVEL_INFO, "set permissions for %s", path);
      return set_permissions(st, path, err);
    }
    return true;
  }
  if (parent_is_new && !create(st, parent, err)) return false;
  log_at(BO_RECIPE_TYPES_LEVEL_INFO, "created path: %s", path);
  st->made = realloc(st->made, (st->made_count + 1) * sizeof(char *));
  st->made[st->made_count++] = strdup(path);
  if (!set_permissions(st, path, err)) return false;
  if (st->remove_on_update && !listed(st->created, path)) {
    st->created->ptr = realloc(st->created->ptr, (st->created->len + 1) * sizeof(recipe_string_t));
    recipe_string_dup(&st->created->ptr[st->created->len++], path);
  }
  return true;
}

bool exports_recipe_install(recipe_string_t *part, recipe_options_t *options, recipe_list_string_t *ret, recipe_string_t *err) {
  (void)part;
  struct state st = {0};
  memset(ret, 0, sizeof *ret);
  st.created = ret;
  st.create_intermediate = to_bool(option(options, "create-intermediate"), 1);
  st.remove_on_update = to_bool(option(options, "remove-on-update"), 0);
  char *mode = option(options, "mode");
  if (mode != NULL) {
    char *digits = trim(mode);
    if (!strncmp(digits, "0o", 2)) digits += 2;
    st.mode = strtol(digits, NULL, 8);
  }
  if (option(options, "user") || option(options, "group"))
    log_at(BO_RECIPE_TYPES_LEVEL_WARNING, "user and group are ignored: the sandbox cannot change ownership");
  bo_recipe_host_prepared_dirs(&st.prepared);
  char *paths = option(options, "paths");
  char *save = NULL;
  for (char *line = strtok_r(paths ? paths : "", "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    st.targets = realloc(st.targets, (st.target_count + 1) * sizeof *st.targets);
    st.targets[st.target_count++] = strdup(trim(line));
  }
  for (size_t i = 0; i < st.target_count; i++)
    if (!create(&st, st.targets[i], err)) return false;
  return true;
}

bool exports_recipe_update(recipe_string_t *part, recipe_options_t *options, recipe_list_string_t *ret, recipe_string_t *err) {
  return exports_recipe_install(part, options, ret, err);
}

bool exports_recipe_uninstall(recipe_string_t *part, recipe_options_t *options, recipe_string_t *err) {
  (void)part;
  (void)options;
  (void)err;
  return true;
}
