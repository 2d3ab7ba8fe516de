/* maat._native: the hot paths Maat runs in C, each with a Python twin that decides.
 *
 * - flat_windows.c, lines.c: NXLog/Mordor JSON lines to normalised events, their ids hashed
 *   four at a time (blake2b.c, blake2b_x4.c; maat.telemetry.native);
 * - prefilter.c, router.c: which Sigma rules an event can match, by its channel, event id
 *   and literals (maat.detect.prefilter);
 * - mapping.c: the ECS mapping plans of Windows events (maat.telemetry.windows_mapping);
 * - columns.c: the lake's columns of a batch of events as Arrow buffers (maat.adapters.lake);
 * - wire.c: the bus messages of a batch of events, and their fields JSON (maat.telemetry.wire);
 * - crc32.c, frames.c: the spool's frames and zlib's CRC-32 of them (maat.adapters.bus.spool).
 *
 * The extension is optional (ADR 0020): without a C compiler Maat runs the Python paths, and
 * differential tests hold the two to the same answers.
 */
#include "native.h"

static struct PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "maat._native",
                                        "The hot paths of ingest and detection in C.", -1,
                                        maat_flat_methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__native(void) {
    if (maat_flat_init() < 0) return NULL;
    maat_crc32_init();
    if (PyType_Ready(&maat_prefilter_type) < 0 || PyType_Ready(&maat_router_type) < 0)
        return NULL;
    PyObject *module = PyModule_Create(&module_def);
    if (module == NULL) return NULL;
    if (PyModule_AddObjectRef(module, "Prefilter", (PyObject *)&maat_prefilter_type) < 0 ||
        PyModule_AddObjectRef(module, "Router", (PyObject *)&maat_router_type) < 0 ||
        PyModule_AddIntConstant(module, "API", MAAT_NATIVE_API) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
