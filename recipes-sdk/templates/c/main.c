/*
 * __NAME__: a bo recipe written in C (clang + wasi-libc).
 *
 * Writes the `greeting` option into parts/<part>/hello.txt. `./build.sh` makes the
 * C bindings of wit/recipe.wit (recipe.h), compiles, and makes a component with
 * the WASI adapter. Strings crossing to bo are allocated with recipe_string_dup
 * (bo frees them); use the recipe with `recipe = /path/to/__NAME__.wasm`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recipe.h"

static char *cstr(const recipe_string_t *s) {
  char *out = malloc(s->len + 1);
  memcpy(out, s->ptr, s->len);
  out[s->len] = 0;
  return out;
}

static char *option(const recipe_options_t *options, const char *name) {
  for (size_t i = 0; i < options->len; i++) {
    const recipe_string_t *key = &options->ptr[i].f0;
    if (key->len == strlen(name) && memcmp(key->ptr, name, key->len) == 0) return cstr(&options->ptr[i].f1);
  }
  return NULL;
}

void exports_recipe_describe(recipe_manifest_t *ret) {
  memset(ret, 0, sizeof *ret);
  ret->names.ptr = malloc(sizeof(recipe_string_t));
  ret->names.len = 1;
  recipe_string_dup(&ret->names.ptr[0], "__NAME__");
  recipe_string_dup(&ret->description, "Writes a greeting into parts/<part>/hello.txt");
  ret->has_update = true;
}

bool exports_recipe_init(recipe_string_t *part, recipe_options_t *options, recipe_options_t *ret, recipe_string_t *err) {
  recipe_string_t section, key, parts;
  recipe_string_set(&section, "buildout");
  recipe_string_set(&key, "parts-directory");
  char *dir = bo_recipe_host_config_get(&section, &key, &parts) ? cstr(&parts) : strdup("");
  char *name = cstr(part);
  char location[4096];
  snprintf(location, sizeof location, "%s/%s", dir, name);
  ret->len = 1;
  ret->ptr = malloc(sizeof *ret->ptr);
  recipe_string_dup(&ret->ptr[0].f0, "location");
  recipe_string_dup(&ret->ptr[0].f1, location);
  return true;
}

bool exports_recipe_install(recipe_string_t *part, recipe_options_t *options, recipe_list_string_t *ret, recipe_string_t *err) {
  char *location = option(options, "location");
  char *greeting = option(options, "greeting");
  if (!greeting) {
    recipe_string_dup(err, "missing option: greeting");
    return false;
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/hello.txt", location);
  FILE *f = fopen(path, "w");
  if (!f) {
    recipe_string_dup(err, "cannot write hello.txt");
    return false;
  }
  fputs(greeting, f);
  fclose(f);
  recipe_string_t message;
  recipe_string_set(&message, "greeted");
  bo_recipe_host_log(BO_RECIPE_TYPES_LEVEL_INFO, &message);
  ret->len = 1;
  ret->ptr = malloc(sizeof(recipe_string_t));
  recipe_string_dup(&ret->ptr[0], location);
  return true;
}

bool exports_recipe_update(recipe_string_t *part, recipe_options_t *options, recipe_list_string_t *ret, recipe_string_t *err) {
  memset(ret, 0, sizeof *ret);
  return true;
}

bool exports_recipe_uninstall(recipe_string_t *part, recipe_options_t *options, recipe_string_t *err) {
  return true;
}
