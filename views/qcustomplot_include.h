#pragma once
// QCustomPlot 2.1's header still uses foreach, which the strict build forbids elsewhere.
#ifdef QT_NO_FOREACH
#undef QT_NO_FOREACH
#define FAIRKV_RESTORE_NO_FOREACH
#endif
#include <qcustomplot.h>
#ifdef FAIRKV_RESTORE_NO_FOREACH
#define QT_NO_FOREACH
#undef FAIRKV_RESTORE_NO_FOREACH
#endif
