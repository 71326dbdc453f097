/* SPDX-License-Identifier: MIT */
/* Macros from system headers that cppcheck is not shown (make lint). */
#define cJSON_ArrayForEach(e, a) for ((e) = (a) ? (a)->child : 0; (e); (e) = (e)->next)
