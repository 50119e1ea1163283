#include "kube_events.h"
