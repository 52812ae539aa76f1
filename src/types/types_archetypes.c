/* The archetype definitions, generated from RR_ARCHETYPE_TABLE
 * (include/rerun/archetypes.h): one constant field-definition array per
 * archetype, one constant definition per archetype, lookup, and per-call
 * validation. No runtime initialisation: everything is static const.
 *
 * Cross-field rules are generic over the field types rather than written per
 * archetype: any archetype with one ImageBuffer and one ImageFormat field
 * gets the buffer-size check, and so on. */
#include "types/rr_types.h"

/* Compile-time check that every field's C type is the C type of its
 * component in the catalogue: the pointer initialisation below is a
 * constraint violation (an error under -Werror) when they differ. */
#if defined(__GNUC__)
#  define RR__UNUSED __attribute__((unused))
#else
#  define RR__UNUSED
#endif
#define RR__CTYPE_TYPEDEF(Name, ctype, rep, param) typedef ctype rr__ctype_##Name;
RR__COMPONENT_TABLE(RR__CTYPE_TYPEDEF)
#undef RR__CTYPE_TYPEDEF
#define RR__CHK_A(ID, Name, snake)
#define RR__CHK_F(snake, Name, field, Comp, ctype, kind, card)                  \
  RR__UNUSED static inline const void *check_##snake##_##field(const rr_##snake *s) { \
    const rr__ctype_##Comp *p = s->field;                                       \
    return p;                                                                   \
  }
#define RR__CHK_E(snake)
RR_ARCHETYPE_TABLE(RR__CHK_A, RR__CHK_F, RR__CHK_E)
#undef RR__CHK_A
#undef RR__CHK_F
#undef RR__CHK_E

/* fields_points3d[] = {{"positions", "Points3D:positions", &Position3D, REQ, 0, ...}, ...} */
#define RR__FIELDS_A(ID, Name, snake) static const rr__field_def fields_##snake[] = {
#define RR__FIELDS_F(snake, Name, field, Comp, ctype, kind, card)                      \
  {#field, #Name ":" #field, &rr__components[RR__COMP_##Comp], RR_FIELD_##kind,         \
   RR_FIELD_##card, offsetof(rr_##snake, field), offsetof(rr_##snake, num_##field)},
#define RR__FIELDS_E(snake) };
RR_ARCHETYPE_TABLE(RR__FIELDS_A, RR__FIELDS_F, RR__FIELDS_E)
#undef RR__FIELDS_A
#undef RR__FIELDS_F
#undef RR__FIELDS_E

/* validate_points3d(s, err) = rr__archetype_validate(&Points3D, s, err) */
#define RR__VAL_A(ID, Name, snake)                                                     \
  static int validate_##snake(const void *s, rr_error *err) {                         \
    return rr__archetype_validate(rr__archetype_get(RR_ARCHETYPE_##ID), s, err);      \
  }
#define RR__VAL_F(snake, Name, field, Comp, ctype, kind, card)
#define RR__VAL_E(snake)
RR_ARCHETYPE_TABLE(RR__VAL_A, RR__VAL_F, RR__VAL_E)
#undef RR__VAL_A
#undef RR__VAL_F
#undef RR__VAL_E

/* nfields_points3d = number of fields; has_image_points3d = 1 if the
 * archetype has an ImageFormat field (only those need check_image). */
#define RR__CNT_A(ID, Name, snake) enum { nfields_##snake = 0
#define RR__CNT_F(snake, Name, field, Comp, ctype, kind, card) +1
#define RR__CNT_E(snake) };
RR_ARCHETYPE_TABLE(RR__CNT_A, RR__CNT_F, RR__CNT_E)
#undef RR__CNT_F
#define RR__CNT_F(snake, Name, field, Comp, ctype, kind, card) +(RR__COMP_##Comp == RR__COMP_ImageFormat)
#undef RR__CNT_A
#define RR__CNT_A(ID, Name, snake) enum { has_image_##snake = 0
RR_ARCHETYPE_TABLE(RR__CNT_A, RR__CNT_F, RR__CNT_E)
#undef RR__CNT_A
#undef RR__CNT_F
#undef RR__CNT_E
#define RR__CNT_A(ID, Name, snake) _Static_assert(nfields_##snake <= RR__MAX_FIELDS, "raise RR__MAX_FIELDS");
#define RR__CNT_F(snake, Name, field, Comp, ctype, kind, card)
#define RR__CNT_E(snake)
RR_ARCHETYPE_TABLE(RR__CNT_A, RR__CNT_F, RR__CNT_E)
#undef RR__CNT_A
#undef RR__CNT_F
#undef RR__CNT_E

const rr__archetype_def rr__archetypes[RR_ARCHETYPE_COUNT] = {
#define RR__DEF_A(ID, Name, snake)                                                      \
  [RR_ARCHETYPE_##ID] = {RR_ARCHETYPE_##ID, "rerun.archetypes." #Name, #Name,           \
                         sizeof(rr_##snake), sizeof fields_##snake / sizeof fields_##snake[0], \
                         fields_##snake, validate_##snake, has_image_##snake != 0},
#define RR__DEF_F(snake, Name, field, Comp, ctype, kind, card)
#define RR__DEF_E(snake)
    RR_ARCHETYPE_TABLE(RR__DEF_A, RR__DEF_F, RR__DEF_E)
#undef RR__DEF_A
#undef RR__DEF_F
#undef RR__DEF_E
};

/* ---- lookup --------------------------------------------------------------- */


const rr__archetype_def *rr__archetype_find(const char *name) {
  if (!name) return NULL;
  for (size_t a = 0; a < RR_ARCHETYPE_COUNT; a++)
    if (strcmp(rr__archetypes[a].name, name) == 0 || strcmp(rr__archetypes[a].short_name, name) == 0)
      return &rr__archetypes[a];
  return NULL;
}

const rr__field_def *rr__archetype_field(const rr__archetype_def *a, const char *name) {
  if (!a || !name) return NULL;
  for (size_t i = 0; i < a->nfields; i++)
    if (strcmp(a->fields[i].name, name) == 0) return &a->fields[i];
  return NULL;
}

/* ---- validation ----------------------------------------------------------- */

/* The only logged field of component `comp` with exactly one value, or NULL. */
static const void *single_value(const rr__archetype_def *a, const void *s, int comp,
                                const rr__field_def **which) {
  for (size_t i = 0; i < a->nfields; i++) {
    const rr__field_def *f = &a->fields[i];
    if (f->type->id != comp) continue;
    const void *p = rr__field_ptr(f, s);
    if (p && rr__field_count(f, s) == 1) {
      if (which) *which = f;
      return p;
    }
  }
  return NULL;
}

static int check_image(const rr__archetype_def *a, const void *s, rr_error *err) {
  const rr__field_def *ff = NULL, *bf = NULL;
  const rr_image_format *fmt = single_value(a, s, RR__COMP_ImageFormat, &ff);
  if (!fmt) return RR_OK;
  /* Depth and segmentation images are single-channel. */
  if ((a->id == RR_ARCHETYPE_DEPTH_IMAGE || a->id == RR_ARCHETYPE_SEGMENTATION_IMAGE) &&
      (fmt->pixel_format != 0 || (fmt->color_model != 0 && fmt->color_model != RR_COLOR_MODEL_L)))
    return rr__err(err, RR_EINVAL,
                   "%s: a %s must be single-channel (no pixel_format, color_model L or unset)",
                   ff->component, a->short_name);
  const rr_bytes *buf = single_value(a, s, RR__COMP_ImageBuffer, &bf);
  if (!buf) return RR_OK;
  uint64_t want, alt;
  if (rr__image_format_num_bytes(fmt, &want, &alt) < 0)
    return rr__err(err, RR_EINVAL, "%s: %ux%u format has no computable size", ff->component,
                   fmt->width, fmt->height);
  if ((uint64_t)buf->len != want && (uint64_t)buf->len != alt) {
    if (want == alt)
      return rr__err(err, RR_ELENGTH, "%s: buffer holds %zu bytes but the %ux%u format needs %llu",
                     bf->component, buf->len, fmt->width, fmt->height, (unsigned long long)want);
    return rr__err(err, RR_ELENGTH,
                   "%s: buffer holds %zu bytes but the %ux%u format needs %llu (or %llu)",
                   bf->component, buf->len, fmt->width, fmt->height, (unsigned long long)alt,
                   (unsigned long long)want);
  }
  return RR_OK;
}

/* Mesh3D: triangle indices must address the vertices logged with them. */
static int check_mesh(const rr__archetype_def *a, const void *s, rr_error *err) {
  const rr_mesh3d *m = s;
  if (!m->vertex_positions || !m->triangle_indices) return RR_OK;
  size_t nv = m->num_vertex_positions;
  for (size_t i = 0; i < m->num_triangle_indices; i++) {
    const rr_uvec3 *t = &m->triangle_indices[i];
    if (t->x >= nv || t->y >= nv || t->z >= nv)
      return rr__err(err, RR_ERANGE, "Mesh3D:triangle_indices: triangle %zu [%u, %u, %u] "
                     "refers past the %zu vertex positions", i, t->x, t->y, t->z, nv);
  }
  return RR_OK;
}

/* Every value finite (exponent bits not all ones), for the common
 * geometric components: blocks of 64 floats without a branch inside, which
 * the compiler turns into vector code (a 600 MB point cloud is checked at
 * memory speed), then the rest one by one. */
static inline bool all_finite_f32(const float *v, size_t count) {
  size_t i = 0;
  for (; count - i >= 64; i += 64) {
    uint32_t bad = 0;
    for (size_t k = 0; k < 64; k++) {
      uint32_t u;
      memcpy(&u, &v[i + k], sizeof u);
      bad |= (u & 0x7f800000u) == 0x7f800000u;
    }
    if (RR__UNLIKELY(bad)) return false;
  }
  for (; i < count; i++) {
    uint32_t u;
    memcpy(&u, &v[i], sizeof u);
    if (RR__UNLIKELY((u & 0x7f800000u) == 0x7f800000u)) return false;
  }
  return true;
}

bool rr__all_finite_f32(const void *v, size_t count) { return all_finite_f32(v, count); }

/* Whether the field's checks are only that its values are finite floats,
 * and it has at least min_bytes of them: such a check may be deferred. */
static inline bool deferrable(const rr__field_def *f, size_t n, size_t min_bytes) {
  const rr__component_def *c = f->type;
  return n * c->c_size >= min_bytes && (c->rep == RR__REP_FSL_F32 || c->rep == RR__REP_F32) && !(f->mono && n > 1);
}

/* The checks of one logged field (non-NULL pointer). Inlined into the
 * per-call loop (rr__archetype_check_field would otherwise keep it out of
 * line). */
static RR__ALWAYS_INLINE int validate_field(const rr__field_def *f, const void *p, size_t n, rr_error *err) {
  if (RR__UNLIKELY(f->mono && n > 1))
    return rr__err(err, RR_ELENGTH, "%s: mono field given %zu values (must be 0 or 1)",
                   f->component, n);
  const rr__component_def *c = f->type;
  if (c->rep == RR__REP_FSL_F32 && all_finite_f32(p, n * (size_t)c->param)) return RR_OK;
  if (c->rep == RR__REP_F32 && all_finite_f32(p, n)) return RR_OK;
  int rc = c->validate(p, n, err); /* the error message, or the other reps */
  if (rc < 0) return rr__err_wrap(err, rc, "%s", f->component);
  return RR_OK;
}

int rr__archetype_check_field(const rr__archetype_def *a, size_t i, const void *s, rr_error *err) {
  const rr__field_def *f = &a->fields[i];
  return validate_field(f, rr__field_ptr(f, s), rr__field_count(f, s), err);
}

int rr__archetype_validate_fields(const rr__archetype_def *a, const void *s, rr_error *err,
                                  uint32_t *present, size_t defer_min_bytes, uint32_t *deferred) {
  if (!a) return rr__err(err, RR_EINVAL, "unknown archetype");
  if (!s) return rr__err(err, RR_EINVAL, "%s: NULL archetype struct", a->short_name);
  const rr__field_def *fields = a->fields;
  size_t nfields = a->nfields;
  /* One scan for the logged fields; a NULL pointer with a count sends us
   * to the in-order loop, so the first error reported stays the same. */
  uint32_t mask = 0;
  for (size_t i = 0; i < nfields; i++) {
    if (rr__field_ptr(&fields[i], s)) mask |= (uint32_t)1 << i;
    else if (RR__UNLIKELY(rr__field_count(&fields[i], s) != 0)) goto in_order;
  }
  uint32_t later = 0;
  for (uint32_t m = mask; m; m &= m - 1) {
    const rr__field_def *f = &fields[rr__lowest_bit(m)];
    size_t n = rr__field_count(f, s);
    if (defer_min_bytes && deferrable(f, n, defer_min_bytes)) later |= m & -m;
    else RR_TRY(validate_field(f, rr__field_ptr(f, s), n, err));
  }
  if (deferred) *deferred = later;
  goto cross;
in_order:
  for (size_t i = 0; i < nfields; i++) {
    const rr__field_def *f = &fields[i];
    const void *p = rr__field_ptr(f, s);
    size_t n = rr__field_count(f, s);
    if (!p) {
      if (n != 0)
        return rr__err(err, RR_EINVAL, "%s: pointer is NULL but num_%s is %zu", f->component,
                       f->name, n);
      continue;
    }
    RR_TRY(validate_field(f, p, n, err));
  }
  return rr__err(err, RR_EINTERNAL, "archetype validation: inconsistent scan"); /* unreachable */
cross:
  if (a->has_image) RR_TRY(check_image(a, s, err));
  if (a->id == RR_ARCHETYPE_MESH3D) RR_TRY(check_mesh(a, s, err));
  if (present) *present = mask;
  return RR_OK;
}

int rr__archetype_validate(const rr__archetype_def *a, const void *s, rr_error *err) {
  return rr__archetype_validate_fields(a, s, err, NULL, 0, NULL);
}
