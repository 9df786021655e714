/**
 * Type declaration of the `k6/x/mqtt` module provided by the grafana/xk6-mqtt extension
 * (https://github.com/grafana/xk6-mqtt), written for type-checking this folder's scripts with tsc.
 * It covers the API surface the scripts use, as documented by that extension: an MQTT.js-like,
 * event-driven Client on the Eclipse Paho Go client, which speaks MQTT 3.1.1 only.
 *
 * Event model: client.connect() starts the connection; the VU then runs an event loop that lasts until
 * the connection ends (client.end() or the broker closing it), so everything happens in handlers.
 * Built-in metrics the extension emits: mqtt_messages_sent, mqtt_messages_received, mqtt_errors,
 * mqtt_calls (counters), plus k6's data_sent / data_received.
 */
declare module 'k6/x/mqtt' {
  /** Delivery guarantee of a PUBLISH / SUBSCRIBE. */
  export enum QoS {
    AtMostOnce = 0,
    AtLeastOnce = 1,
    ExactlyOnce = 2,
  }

  /** Numeric QoS accepted wherever a QoS is expected. */
  export type QoSLevel = QoS | 0 | 1 | 2;

  /** Tags added to the metrics of one call or of every call of a client. */
  export interface Tagged {
    tags?: Record<string, string>;
  }

  export interface Will {
    topic: string;
    payload: string;
    qos?: QoSLevel;
    retain?: boolean;
  }

  export interface Credentials {
    username: string;
    password: string;
  }

  export interface ClientOptions extends Tagged {
    /** Client identifier; unique per broker connection. */
    clientId?: string;
    username?: string;
    password?: string;
    /** Called at connect time instead of fixed username/password. */
    credentials_provider?: () => Credentials;
    will?: Will;
  }

  export interface ConnectOptions extends Tagged {
    /** Seconds; the extension's default is 60. */
    keepalive?: number;
    /** Milliseconds; the extension's default is 30000. */
    connect_timeout?: number;
    clean_session?: boolean;
    /** Several broker URLs to fail over between. */
    servers?: string[];
  }

  export interface SubscribeOptions extends Tagged {
    qos?: QoSLevel;
  }

  export interface PublishOptions extends Tagged {
    qos?: QoSLevel;
    retain?: boolean;
  }

  export type EndOptions = Tagged;
  export type UnsubscribeOptions = Tagged;

  export interface MQTTError {
    name: 'MQTTError';
    message: string;
    /** Client method in which the error happened. */
    method: string;
  }

  /** One connection; URL schemes mqtt:// tcp:// mqtts:// ssl:// tls:// ws:// wss:// (TLS via k6's own TLS settings). */
  export class Client {
    constructor(options?: ClientOptions);
    readonly connected: boolean;

    connect(url: string | ConnectOptions, options?: ConnectOptions): void;
    reconnect(): void;
    end(options?: EndOptions): void;
    endAsync(options?: EndOptions): Promise<void>;

    subscribe(topic: string | string[] | SubscribeOptions, options?: SubscribeOptions): void;
    subscribeAsync(topic: string | string[] | SubscribeOptions, options?: SubscribeOptions): Promise<void>;
    unsubscribe(topics: string | string[], options?: UnsubscribeOptions): void;
    unsubscribeAsync(topics: string | string[], options?: UnsubscribeOptions): Promise<void>;

    publish(topic: string, payload: string | ArrayBuffer, options?: PublishOptions): void;
    publishAsync(topic: string, payload: string | ArrayBuffer, options?: PublishOptions): Promise<void>;

    on(event: 'connect' | 'end' | 'reconnect', listener: () => void): void;
    on(event: 'message', listener: (topic: string, payload: ArrayBuffer) => void): void;
    on(event: 'error', listener: (error: MQTTError) => void): void;
  }
}
